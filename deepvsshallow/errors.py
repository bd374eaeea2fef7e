"""The one exception type that means "the user asked for something impossible".

Library code raises `UsageError` (a `ValueError`, so notebook users can catch it
as such) with a single line that says what is wrong and what to do. Launchers
turn it into that line on stderr and exit code 2, with no traceback.
"""


class UsageError(ValueError):
  """Bad input from a user: an unknown name, an impossible size, a bad path."""
