#!/bin/bash
# triple-fault-elf.sh OUT — write a tiny PVH kernel that says hello on port 0xe9, then triple-faults.
#
# It lets the self-test check the early-crash path of xt_create (retries, then a triple fault
# kept by on_reboot = "preserve") and xt_debugcon, without a compiler in dom0. Layout of the
# ELF32 file, loaded at 1 MiB: header (52 bytes), PT_LOAD and PT_NOTE program headers
# (2 x 32), the XEN_ELFNOTE_PHYS32_ENTRY note (20), then the code at the entry point:
#   mov al, c; out 0xe9, al   once per byte of the message (Xen prints "(dN) message")
#   lidt [idtr]               load an empty IDT (limit 0)
#   ud2                       #UD -> no usable IDT -> #DF -> triple fault
#   idtr: 6 zero bytes
set -e
out=$1
msg=${2:-selftest-fault: hello on port 0xe9}
base=$((0x100000))
note_off=116
code_off=136
idtr_off=$((code_off + 4 * (${#msg} + 1) + 9))
size=$((idtr_off + 8))
entry=$((base + code_off))

byte() { printf "\\x$(printf %02x $(($1 & 255)))"; }
le16() { byte "$1"; byte $(($1 >> 8)); }
le32() { le16 $(($1 & 65535)); le16 $((($1 >> 16) & 65535)); }

{
	# ELF header: 32-bit, little endian, EXEC, EM_386.
	printf '\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00'
	le16 2; le16 3; le32 1; le32 $entry; le32 52; le32 0; le32 0
	le16 52; le16 32; le16 2; le16 40; le16 0; le16 0
	# PT_LOAD: the whole file at 1 MiB, RWX.
	le32 1; le32 0; le32 $base; le32 $base; le32 $size; le32 $size; le32 7; le32 4096
	# PT_NOTE
	le32 4; le32 $note_off; le32 $((base + note_off)); le32 $((base + note_off)); le32 20; le32 20; le32 4; le32 4
	# Note: namesz 4, descsz 4, type 18 (XEN_ELFNOTE_PHYS32_ENTRY), "Xen\0", entry.
	le32 4; le32 4; le32 18; printf 'Xen\0'; le32 $entry
	# Code: the message on port 0xe9 (b0 imm8, e6 e9), lidt [idtr] (0f 01 1d disp32), ud2 (0f 0b).
	for ((i = 0; i < ${#msg}; i++)); do
		printf '\xb0'; byte "$(printf %d "'${msg:i:1}")"; printf '\xe6\xe9'
	done
	printf '\xb0\x0a\xe6\xe9'
	printf '\x0f\x01\x1d'; le32 $((base + idtr_off)); printf '\x0f\x0b'
	# idtr (limit 0, base 0) and padding.
	printf '\0\0\0\0\0\0\0\0'
} >"$out"
[ "$(stat -c %s "$out")" -eq $size ]
