// Finding Xen through its CPUID leaves.

package hypercall

import "encoding/binary"

// CPUIDFunc executes CPUID for a leaf and subleaf.
type CPUIDFunc func(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)

// Leaves describes the Xen CPUID leaves found at Base.
type Leaves struct {
	// Base is the first Xen leaf: 0x40000000 + n*0x100.
	Base uint32
	// Major and Minor are Xen's version from leaf Base+1.
	Major, Minor uint32
	// HypercallPages is how many hypercall pages Xen offers (leaf Base+2 EAX).
	HypercallPages uint32
	// HypercallMSR is the MSR whose write installs the hypercall page (leaf Base+2 EBX).
	HypercallMSR uint32
	// TSCKHz is the guest TSC frequency in kHz (leaf Base+3 subleaf 0, ECX), or 0 if absent.
	TSCKHz uint32
}

// xenSignature is "XenVMMXenVMM" as it appears in EBX, ECX, EDX.
var xenSignature = [12]byte{'X', 'e', 'n', 'V', 'M', 'M', 'X', 'e', 'n', 'V', 'M', 'M'}

// FindXen looks for the Xen signature at leaves 0x40000000 + n*0x100 (n < 16; Xen moves its
// leaves up when it also offers Hyper-V's at the base) and reads the leaves it needs.
func FindXen(cpuid CPUIDFunc) (Leaves, bool) {
	for base := uint32(0x40000000); base < 0x40010000; base += 0x100 {
		eax, ebx, ecx, edx := cpuid(base, 0)
		var sig [12]byte
		binary.LittleEndian.PutUint32(sig[0:], ebx)
		binary.LittleEndian.PutUint32(sig[4:], ecx)
		binary.LittleEndian.PutUint32(sig[8:], edx)
		// EAX is the highest leaf; Xen has at least base+2 (hypercall page).
		if sig != xenSignature || eax < base+2 {
			continue
		}
		l := Leaves{Base: base}
		ver, _, _, _ := cpuid(base+1, 0)
		l.Major, l.Minor = ver>>16, ver&0xffff
		l.HypercallPages, l.HypercallMSR, _, _ = cpuid(base+2, 0)
		if eax >= base+3 {
			// Leaf base+3 subleaf 0: ECX is the guest TSC frequency in kHz (cpuid.h).
			_, _, khz, _ := cpuid(base+3, 0)
			l.TSCKHz = khz
		}
		return l, true
	}
	return Leaves{}, false
}
