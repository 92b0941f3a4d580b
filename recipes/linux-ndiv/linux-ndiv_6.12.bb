SUMMARY = "Linux 6.12 LTS with the ndiv frame diverter, for linerate boards"
DESCRIPTION = "The pinned 6.12 stable kernel from kernel.org with linerate's \
               patch series (ndiv hook, mvneta support, MAC set-up) and configuration \
               fragments, the same ones `linerate kernel` builds offline. Packed for the \
               vendor U-Boot: a legacy uImage at 0x8000 holding zImage + the board's DTB."
HOMEPAGE = "https://www.kernel.org/"
SECTION = "kernel"
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://COPYING;md5=6bc538ed5bd9a7fc9398086aedcd7e46"

DEPENDS += "bc-native gmp-native libmpc-native openssl-native util-linux-native xz-native"

PV = "${LINUX_VERSION}"

# The stable tree at the tag v${LINUX_VERSION}. LINUX_VERSION, the patch
# series and the configuration fragments come from linux-ndiv.inc (owned with
# the series; `linerate kernel` reads the same file), in order.
SRC_URI = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git;protocol=https;branch=linux-6.12.y;tag=v${LINUX_VERSION}"

# The commit the tag names. With tag= and a commit both set, bitbake parses
# without the network and its git fetcher checks, when it unpacks, that the
# tag still names this commit (a moved tag or a LINUX_VERSION changed without
# re-pinning fails the build). Until a host with network has pinned it, the
# line holds LINERATE_KERNEL_UNPINNED, which parses offline and stops do_fetch
# with the step to run: `python -m linerate build --pin-kernel` resolves the
# tag with git ls-remote and rewrites this line (`linerate build` does it by
# itself on its first online run); commit the change.
LINERATE_KERNEL_UNPINNED = "0000000000000000000000000000000000000000"
SRCREV = "0000000000000000000000000000000000000000"
require linux-ndiv.inc

LINUX_VERSION_EXTENSION ?= "-ndiv"
KERNEL_LOCALVERSION = "${LINUX_VERSION_EXTENSION}"

COMPATIBLE_MACHINE = "^(openblocks-ax3|mirabox)$"

inherit kernel

python linerate_check_kernel_pin() {
    if d.getVar("SRCREV") == d.getVar("LINERATE_KERNEL_UNPINNED"):
        bb.fatal("linux-ndiv: SRCREV is not pinned yet (the commit of tag v%s is unknown). "
                 "On a host with network, run `python -m linerate build --pin-kernel` in the "
                 "repository (it writes the commit into %s), commit it, and build again."
                 % (d.getVar("LINUX_VERSION"), d.getVar("FILE")))
}
linerate_check_kernel_pin[doc] = "Stops the fetch with the step to run while SRCREV is the unpinned placeholder"
do_fetch[prefuncs] += "linerate_check_kernel_pin"

def linerate_fragments(d):
    """The configuration fragments (file://*.cfg) of SRC_URI, in order."""
    import os
    frags = []
    for uri in (d.getVar("SRC_URI") or "").split():
        if uri.startswith("file://"):
            path = uri[len("file://"):].split(";")[0]
            if path.endswith(".cfg"):
                frags.append(os.path.join(d.getVar("UNPACKDIR"), os.path.basename(path)))
    return frags

LINERATE_FRAGMENTS = "${@' '.join(linerate_fragments(d))}"

# Base configuration: KBUILD_DEFCONFIG (from linux-ndiv.inc) in the kernel
# tree, then the fragments merged on top with scripts/kconfig/merge_config.sh,
# as the offline build does.
do_configure:prepend() {
    oe_runmake -C ${S} O=${B} ${KBUILD_DEFCONFIG}
    if [ -n "${LINERATE_FRAGMENTS}" ]; then
        (cd ${B} && ${S}/scripts/kconfig/merge_config.sh -m -O ${B} ${B}/.config ${LINERATE_FRAGMENTS})
    fi
}

# After olddefconfig: every option a fragment sets must have survived (a
# missing dependency silently drops an option otherwise).
do_configure:append() {
    status=0
    for frag in ${LINERATE_FRAGMENTS}; do
        name=$(basename "$frag")
        grep -E '^CONFIG_[A-Za-z0-9_]+=' "$frag" > ${B}/fragment-wants || true
        while IFS= read -r want; do
            if ! grep -qxF -- "$want" ${B}/.config; then
                bberror "$name: $want is not in the final .config (missing dependency?)"
                status=1
            fi
        done < ${B}/fragment-wants
        sed -n 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set$/\1/p' "$frag" > ${B}/fragment-unsets
        while IFS= read -r opt; do
            if grep -q "^$opt=" ${B}/.config; then
                bberror "$name: $opt should be unset but is $(grep "^$opt=" ${B}/.config)"
                status=1
            fi
        done < ${B}/fragment-unsets
        rm -f ${B}/fragment-wants ${B}/fragment-unsets
    done
    if ! grep -qx 'CONFIG_ARM_APPENDED_DTB=y' ${B}/.config; then
        bberror "CONFIG_ARM_APPENDED_DTB=y is required: the vendor U-Boot boots zImage with the DTB appended"
        status=1
    fi
    [ $status -eq 0 ] || bbfatal "kernel configuration does not match the fragments"
}

# The uImage the vendor U-Boot boots: zImage with the machine's DTB appended,
# wrapped as a legacy kernel image loaded and started at UBOOT_LOADADDRESS.
# Replaces kernel-uimage's version, which wraps the zImage without a DTB.
do_uboot_mkimage() {
    set -- ${KERNEL_DEVICETREE}
    if [ $# -ne 1 ]; then
        bbfatal "KERNEL_DEVICETREE must name exactly one DTB (got: ${KERNEL_DEVICETREE}): a uImage carries one appended tree"
    fi
    dtb="${B}/arch/${ARCH}/boot/dts/$1"
    [ -f "$dtb" ] || bbfatal "DTB $dtb was not built"
    cat ${B}/arch/${ARCH}/boot/zImage "$dtb" > ${B}/linux-dtb.bin
    uboot-mkimage -A ${UBOOT_ARCH} -O linux -T kernel -C none \
        -a ${UBOOT_LOADADDRESS} -e ${UBOOT_ENTRYPOINT} \
        -n "${DISTRO_NAME}/${PV}/${MACHINE}" \
        -d ${B}/linux-dtb.bin ${B}/arch/${ARCH}/boot/uImage
    rm -f ${B}/linux-dtb.bin
}

# do_sizecheck (KERNEL_IMAGE_MAXSIZE) measures every KERNEL_IMAGETYPE, so
# the uImage must exist by then (kernel-uimage leaves the two unordered).
# nooelint: oelint.task.addnotaskbody - do_sizecheck is kernel.bbclass's, only ordered here
addtask sizecheck after do_uboot_mkimage

# Sizes against the flash map, printed and enforced: the Mirabox kernel
# partition (LINERATE_KERNEL_PART_SIZE bytes). The AX3 NOR slot is checked
# with the initramfs in the image recipe.
do_deploy:append() {
    size=$(stat -c %s ${B}/arch/${ARCH}/boot/uImage)
    bbplain "linerate: uImage for ${MACHINE}: $size bytes"
    limit="${LINERATE_KERNEL_PART_SIZE}"
    if [ -n "$limit" ] && [ "$size" -gt "$limit" ]; then
        bbfatal "uImage is $size bytes, more than the $limit-byte kernel partition of ${MACHINE}"
    fi
}
