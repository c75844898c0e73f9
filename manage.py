#!/usr/bin/env python
"""Django's command-line utility for Vigil."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))

if __name__ == "__main__":
    from vigil.__main__ import main

    main()
