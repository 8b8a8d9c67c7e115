# SPDX-License-Identifier: BSD-2-Clause
# docs/: pictures and tables generated from sources in the tree. Included by the top Makefile.
#   make docs           docs/states.svg from docs/states.dot (Graphviz)
# Checked by tests/test_docs.py (make test); never needs QEMU.
.PHONY: docs

docs: docs/states.svg

docs/states.svg: docs/states.dot
	dot -Tsvg $< | sed '1a <!-- SPDX-License-Identifier: BSD-2-Clause; drawn from docs/states.dot by make docs: do not edit -->' > $@.tmp
	mv $@.tmp $@
