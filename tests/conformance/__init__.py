# SPDX-License-Identifier: BSD-2-Clause
"""The conformance suite of issue 11: barevsock against a Linux guest under a raw-packet host."""
