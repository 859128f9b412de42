"""`python -m helpers.data build-sports10 <archive> <out>`: build the Sports-10 folder."""
import sys

from .sports10 import main

sys.exit(main())
