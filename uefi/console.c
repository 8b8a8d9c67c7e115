/* SPDX-License-Identifier: BSD-2-Clause */
/* The console of the UEFI platform: the app's printf (arch_putc) and the
 * library's log (bv_port_log) go to the firmware's ConOut, one line per
 * OutputString call (UCS-2, "\n" sent as "\r\n"). COM1 belongs to the
 * firmware's terminal driver, so we never touch the UART ourselves.
 * Non-goals: input, colours, cursor control. */
#include <stddef.h>
#include <stdint.h>
#include "bv/arch.h"
#include "uefi/uefi.h"

#define CONSOLE_LINE 160

static char line[CONSOLE_LINE];
static unsigned used;

void uefi_console_flush(void)
{
	/* Room for every byte plus the \r of each newline and the NUL. */
	efi_char16 w[2 * CONSOLE_LINE + 1];
	unsigned k = 0;

	if (!used)
		return;
	for (unsigned i = 0; i < used; i++) {
		if (line[i] == '\n')
			w[k++] = '\r';
		w[k++] = (unsigned char)line[i];
	}
	w[k] = 0;
	used = 0;
	if (uefi_st && uefi_st->con_out)
		uefi_st->con_out->output_string(uefi_st->con_out, w);
}

void arch_putc(char c)
{
	line[used++] = c;
	if (c == '\n' || used == CONSOLE_LINE)
		uefi_console_flush();
}

void bv_port_log(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		arch_putc(s[i]);
}
