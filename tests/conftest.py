import os

import pytest


@pytest.fixture(scope='session')
def tfds_dir(tmp_path_factory):
  """A private TFDS_DATA_DIR: tests never touch the user's datasets."""
  path = str(tmp_path_factory.mktemp('tfds'))
  os.environ['TFDS_DATA_DIR'] = path
  return path


@pytest.fixture(scope='session')
def digits(tfds_dir):
  from deepvsshallow import data
  return data.load_dataset('digits', data_dir=tfds_dir)
