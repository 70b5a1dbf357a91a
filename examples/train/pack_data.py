"""Write the compact copy of a training config's data (``fusecli.train.pack``) and print the
``--set`` overrides that train from it, e.g. to carry the data to a rented GPU machine:

    python examples/train/pack_data.py examples/train/mmaif-reg.toml .devdata   # 42 MB as JPEG
"""

import argparse
import json
import sys
from pathlib import Path

from fusecli.errors import FusecliError
from fusecli.train.config import load_config
from fusecli.train.pack import FORMATS, pack_data

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("config")
parser.add_argument("dst")
parser.add_argument("--format", choices=sorted(FORMATS), default="jpg")
args = parser.parse_args()
try:
    folders, written = pack_data(load_config(args.config), args.dst, args.format)
except FusecliError as exc:
    sys.exit(f"error: {exc}")
print(f"wrote {written / 1e6:.1f} MB to {args.dst}; train from it with:")
print(" ".join(f"--set 'data.{key}={json.dumps([str(Path(p).resolve()) for p in paths])}'" for key, paths in folders.items()))
