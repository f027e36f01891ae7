import sys

from motifbench.cli import main

sys.exit(main())
