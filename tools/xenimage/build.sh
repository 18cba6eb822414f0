#!/usr/bin/env bash
# build.sh — build (or reuse) the QEMU/Xen test image: Xen plus the Debian dom0 that ships it.
#
# Usage: tools/xenimage/build.sh [--force] [--xen VERSION]
#   --xen VERSION   the Xen release: 4.17 (Debian 12, the default) or 4.20 (Debian 13);
#                   also taken from $XEN_VERSION
#
# The image lands in ${XDG_CACHE_HOME:-$HOME/.cache}/tamaxen/xen-image/<hash>/, where <hash>
# covers the Xen version and every file that defines it (build.sh, recipe.conf, lib/host.sh,
# dom0/*). It holds:
#   xen              Xen hypervisor, uncompressed multiboot ELF (QEMU -kernel)
#   vmlinux          Debian kernel as an ELF: dom0 kernel, and a PVH domU kernel
#   initrd.cpio[.*]  dom0 root filesystem (initramfs), compression per recipe.conf
#   linux-domu.cpio  optional initramfs segment that puts vmlinux at /usr/lib/xentest/vmlinux
#   image.env        file names and versions, sourced by run.sh
#   manifest.txt     package versions and sizes
# An existing image is reused. A build goes to a temporary folder that is renamed into
# place at the end, so an interrupted build is never reused; only the XI_KEEP_IMAGES (4)
# most recently used images are kept. Intermediate stages (the
# debootstrap tree, the downloaded packages) are cached under stages/ by their own key.
# The repository's build/xen-image-VERSION is linked to the image folder. The only line on stdout
# is the image folder; progress goes to stderr. Needs root (debootstrap, chroot).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/host.sh
. "$here/lib/host.sh"

force=
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--xen) export XEN_VERSION=$2; shift ;;
	-h | --help) sed -n '2,23p' "$0"; exit 0 ;;
	*) xi_die "unknown argument: $1" ;;
	esac
	shift
done
# shellcheck source=recipe.conf
. "$here/recipe.conf"

repo=$(xi_repo_root)
cache=$(xi_cache_root)
recipe_files=(build.sh recipe.conf lib/host.sh)
mapfile -t dom0_files < <(cd "$here" && find dom0 -type f | LC_ALL=C sort)
hash=$({
	echo "xen $XI_XEN_VERSION"
	xi_hash_files "$here" "${recipe_files[@]}" "${dom0_files[@]}"
} | sha256sum | cut -c1-16)
img=$cache/$hash

link_image() {
	mkdir -p "$repo/build"
	ln -sfn "$img" "$repo/build/xen-image-$XI_XEN_VERSION"
}

if [ -z "$force" ] && [ -f "$img/image.env" ]; then
	xi_log "image $hash: reusing cached $img"
	touch "$img" # most recently used: spared by the pruning below
	link_image
	printf '%s\n' "$img"
	exit 0
fi

[ "$(id -u)" = 0 ] || xi_die "building the image needs root (debootstrap, chroot)"
mkdir -p "$cache/stages"
# One build at a time on this machine; whoever waited reuses what the first one built.
exec {lockfd}>"$cache/.build.lock"
if ! flock -n "$lockfd"; then
	xi_log "another build.sh is running; waiting for it"
	flock "$lockfd"
	if [ -z "$force" ] && [ -f "$img/image.env" ]; then
		xi_log "image $hash: reusing $img built meanwhile"
		link_image
		printf '%s\n' "$img"
		exit 0
	fi
fi
xi_log "image $hash: building into $img"
xi_need_pkgs debootstrap cpio gzip xz-utils zstd ca-certificates

tmp=$(mktemp -d "$cache/.build-$hash.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
mkdir -p "$out"

mirror=$(xi_apt_mirror) || xi_die "cannot find the Debian mirror in /etc/apt/sources.list*"

# --- 1. Packages taken whole from the archive: the hypervisor and the kernel -----------------
xi_suite_apt "$XI_SUITE" "$mirror" "$cache/stages/apt-$XI_SUITE"
kernel_pkg=$(apt-cache "${XI_APT[@]}" depends "$XI_KERNEL_PACKAGE" |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[ -n "$kernel_pkg" ] || xi_die "cannot resolve $XI_KERNEL_PACKAGE to a versioned kernel package"
xi_log "downloading $XI_XEN_PACKAGE $kernel_pkg"
mkdir -p "$tmp/debs"
# apt's download sandbox user cannot write into a root-only temporary folder.
(cd "$tmp/debs" && apt-get "${XI_APT[@]}" download -q \
	"$XI_XEN_PACKAGE" "$kernel_pkg" >&2) || xi_die "apt-get download failed"

# --- 2. dom0 userland: debootstrap (cached as a stage), then pruned ------------------------
stage_key=$(printf '%s\n' "$XI_SUITE" "$XI_DOM0_PACKAGES" | sha256sum | cut -c1-16)
stage=$cache/stages/rootfs-$stage_key.tar
rootfs=$tmp/rootfs
mkdir -p "$rootfs"
if [ -f "$stage" ]; then
	xi_log "dom0 userland: reusing debootstrap stage $(basename "$stage")"
else
	xi_log "dom0 userland: debootstrap $XI_SUITE from $mirror (1-2 min)"
	debootstrap --variant=minbase --include="${XI_DOM0_PACKAGES// /,}" \
		"$XI_SUITE" "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 || {
		tail -n 30 "$tmp/debootstrap.log" >&2
		xi_die "debootstrap failed"
	}
	chroot "$rootfs" dpkg-query -W -f '${Package} ${Version}\n' >"$rootfs/.dom0-packages.txt"
	rm -f "$rootfs"/var/cache/apt/archives/*.deb
	tar -C "$rootfs" -cf "$stage.tmp" .
	mv "$stage.tmp" "$stage"
	rm -rf "$rootfs"
	mkdir -p "$rootfs"
fi
tar -C "$rootfs" -xf "$stage"
# The recipe's paths may be shell patterns (python3.*): expanded inside the tree, never
# against the folder build.sh was started from.
(
	cd "${rootfs:?}" || exit 1
	for p in $XI_PRUNE; do
		# shellcheck disable=SC2086
		rm -rf -- $p
	done
) || xi_die "cannot prune the dom0 tree"

# --- 3. Kernel: vmlinux ELF out of the bzImage, and the modules we need ---------------------

# extract_vmlinux BZIMAGE OUT finds the compressed payload of a bzImage by its magic number
# and decompresses it; the payload is the kernel ELF. Decompressors complain about the bytes
# that follow the stream, so success is judged by the ELF magic of the output.
extract_vmlinux() {
	local bz=$1 dst=$2 spec magic tool off pattern
	for spec in "1f8b08:gzip -dc" "fd377a585a00:xz -dc" "28b52ffd:zstd -dcq" \
		"425a68:bzip2 -dc" "5d000000:xz --format=lzma -dc" "894c5a:lzop -dc" "02214c18:lz4 -dc"; do
		magic=${spec%%:*}
		tool=${spec#*:}
		command -v "${tool%% *}" >/dev/null || continue
		pattern=$(printf '%s' "$magic" | sed 's/../\\x&/g')
		for off in $(LC_ALL=C grep -obUaP "$pattern" "$bz" | cut -d: -f1); do
			tail -c +$((off + 1)) "$bz" | $tool >"$dst" 2>/dev/null || true
			if [ "$(head -c 4 "$dst" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
				xi_log "vmlinux: ${tool%% *} payload at offset $off of $(basename "$bz")"
				return 0
			fi
		done
	done
	return 1
}

# Not straight into the rootfs: tar would replace its /lib -> usr/lib symlink by a folder.
dpkg-deb -x "$tmp/debs/${kernel_pkg}_"*.deb "$tmp/kernel"
# Debian 12's kernel package has its modules in /lib/modules, Debian 13's in /usr/lib/modules.
kmods=$tmp/kernel/usr/lib/modules
[ -d "$kmods" ] || kmods=$tmp/kernel/lib/modules
kver=$(ls "$kmods")
[ -n "$kver" ] && [ "$(echo "$kver" | wc -l)" = 1 ] || xi_die "want one kernel release in $kernel_pkg, got '$kver'"
extract_vmlinux "$tmp/kernel/boot/vmlinuz-$kver" "$out/vmlinux" || xi_die "no kernel ELF found in the bzImage"
mkdir -p "$rootfs/usr/lib/modules"
mv "$kmods/$kver" "$rootfs/usr/lib/modules/"

xi_log "modules: selecting $XI_DOM0_MODULES $XI_GUEST_MODULES $XI_UPLINK_MODULES"
chroot "$rootfs" depmod "$kver"
keep=$(for m in $XI_DOM0_MODULES $XI_GUEST_MODULES $XI_UPLINK_MODULES; do
	chroot "$rootfs" modprobe -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" { print $2 }' | sort -u)
[ -n "$keep" ] || xi_die "module selection is empty"
(cd "$rootfs" && find "lib/modules/$kver/kernel" -name '*.ko*' -type f |
	awk -v keep="$keep" 'BEGIN { n = split(keep, k, "\n"); for (i = 1; i <= n; i++) want[k[i]] = 1 }
		!want["/" $0]' | xargs -r rm -f)
find "$rootfs/lib/modules/$kver/kernel" -depth -type d -empty -delete
chroot "$rootfs" depmod "$kver"

# --- 4. Hypervisor -------------------------------------------------------------------------
mkdir -p "$tmp/xenpkg"
dpkg-deb -x "$tmp/debs/${XI_XEN_PACKAGE}_"*.deb "$tmp/xenpkg"
gzip -dc "$tmp/xenpkg/boot/xen-$XI_XEN_VERSION-amd64.gz" >"$out/xen"

# --- 5. Our dom0 files ---------------------------------------------------------------------
install -m 0755 "$here/dom0/init" "$rootfs/init"
install -D -m 0644 "$here/dom0/lib.sh" "$rootfs/usr/lib/xentest/lib.sh"
install -D -m 0755 "$here/dom0/vif-xentest" "$rootfs/etc/xen/scripts/vif-xentest"
install -m 0644 "$here/dom0/xl.conf" "$rootfs/etc/xen/xl.conf"
mkdir -p "$rootfs/var/log/xen/console" "$rootfs/var/lib/xen" "$rootfs/var/lib/xenstored" \
	"$rootfs/usr/lib/xentest/linux" "$rootfs/payload"
printf '%s\n' "$kver" >"$rootfs/usr/lib/xentest/kernel-release"
printf '%s\n' "$XI_XEN_VERSION" >"$rootfs/usr/lib/xentest/xen-release"
echo xen-dom0 >"$rootfs/etc/hostname"

# --- 6. Initramfs --------------------------------------------------------------------------
# cpio_dir DIR writes a newc archive of DIR to stdout, in a stable order, owned by root.
cpio_dir() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
}
# pad4 pads a file with zeros to a multiple of 512 bytes: Linux skips zeros between
# concatenated initramfs segments but wants every cpio header 4-byte aligned.
pad512() {
	local size
	size=$(stat -c %s "$1")
	truncate -s $(((size + 511) / 512 * 512)) "$1"
}

xi_log "initramfs: packing ($XI_INITRD_COMPRESS)"
case $XI_INITRD_COMPRESS in
none) initrd=initrd.cpio; cpio_dir "$rootfs" >"$out/$initrd" ;;
gzip) initrd=initrd.cpio.gz; cpio_dir "$rootfs" | gzip -6 -n >"$out/$initrd" ;;
zstd) initrd=initrd.cpio.zst; cpio_dir "$rootfs" | zstd -q -10 -T0 >"$out/$initrd" ;;
*) xi_die "XI_INITRD_COMPRESS must be none, gzip or zstd" ;;
esac
pad512 "$out/$initrd"

# The PVH domU copy of the kernel is a separate segment: most tests do not boot Linux guests
# and should not pay for loading 60+ MB under TCG.
mkdir -p "$tmp/domu/usr/lib/xentest/linux"
ln "$out/vmlinux" "$tmp/domu/usr/lib/xentest/linux/vmlinux"
cpio_dir "$tmp/domu" >"$out/linux-domu.cpio"
pad512 "$out/linux-domu.cpio"

# --- 7. Describe and publish ---------------------------------------------------------------
xen_ver=$(dpkg-deb -f "$tmp/debs/${XI_XEN_PACKAGE}_"*.deb Version)
kpkg_ver=$(dpkg-deb -f "$tmp/debs/${kernel_pkg}_"*.deb Version)
cat >"$out/image.env" <<EOF
# Written by tools/xenimage/build.sh; sourced by run.sh.
XEN_IMAGE_HASH=$hash
XEN_IMAGE_XEN=xen
XEN_IMAGE_KERNEL=vmlinux
XEN_IMAGE_INITRD=$initrd
XEN_IMAGE_LINUX_DOMU=linux-domu.cpio
XEN_IMAGE_KERNEL_RELEASE=$kver
XEN_IMAGE_XEN_VERSION=$xen_ver
EOF
{
	echo "image $hash built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(xi_elapsed)s"
	echo "mirror $mirror suite $XI_SUITE"
	echo "$XI_XEN_PACKAGE $xen_ver"
	echo "$kernel_pkg $kpkg_ver"
	echo "modules: $(echo "$keep" | sed 's|.*/||' | tr '\n' ' ')"
	echo "sizes (bytes):"
	(cd "$out" && stat -c '  %n %s' xen vmlinux "$initrd" linux-domu.cpio)
	echo "dom0 packages:"
	sed 's/^/  /' "$rootfs/.dom0-packages.txt"
} >"$out/manifest.txt"

# Renames only, so nobody ever sees a half-written image folder.
[ -e "$img" ] && mv "$img" "$tmp/old-image"
mv "$out" "$img"
link_image

# Keep the XI_KEEP_IMAGES most recently used images (each recipe edit makes a new one).
ls -1dt "$cache"/[0-9a-f]*/ 2>/dev/null | tail -n +$((${XI_KEEP_IMAGES:-4} + 1)) | while read -r old; do
	xi_log "pruning old image $(basename "$old")"
	rm -rf "$old"
done
xi_log "image $hash ready: initramfs $(du -h "$img/$initrd" | cut -f1), vmlinux $(du -h "$img/vmlinux" | cut -f1)"
printf '%s\n' "$img"
