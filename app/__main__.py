import sys

from genloupe.app.cli import main

sys.exit(main())
