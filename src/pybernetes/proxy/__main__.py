import sys

from pybernetes.proxy.main import main

sys.exit(main())
