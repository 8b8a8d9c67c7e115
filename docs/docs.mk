# SPDX-License-Identifier: BSD-2-Clause
# docs/: pictures and tables generated from sources in the tree. Included by the top Makefile.
#   make docs           docs/states.svg from docs/states.dot (Graphviz), and the packet
#                       table of docs/protocol.md from docs/walkthrough.pcap (tshark)
#   make docs-capture   record docs/walkthrough.pcap afresh (QEMU, the x86_64 echo image and
#                       host/), then make docs
# Checked by tests/test_docs.py (make test), which never needs QEMU.
.PHONY: docs docs-capture

docs: docs/states.svg
	$(PYTHON) tools/pcap_table.py docs/walkthrough.pcap --update docs/protocol.md

docs/states.svg: docs/states.dot
	dot -Tsvg $< | sed '1a <!-- SPDX-License-Identifier: BSD-2-Clause; drawn from docs/states.dot by make docs: do not edit -->' > $@.tmp
	mv $@.tmp $@

docs-capture:
	$(MAKE) --no-print-directory ARCH=x86_64 BV_CONFIG=$(EXAMPLE_CONFIG) BUILDDIR=build/x86_64-small all
	$(MAKE) --no-print-directory host
	$(PYTHON) tests/echosession.py docs/walkthrough.pcap --walkthrough
	$(MAKE) --no-print-directory docs
