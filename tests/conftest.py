# SPDX-License-Identifier: BSD-2-Clause
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
