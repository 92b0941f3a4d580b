SUMMARY = "linerate appliance: SLHTTPD in the NIC driver on a small busybox system"
DESCRIPTION = "The firmware of the line-rate HTTP test appliance. Per board: \
               OpenBlocks AX3/4 - a NOR uImage (kernel + initramfs, one 16 MiB slot) and an \
               SSD wic image; Mirabox - a UBI image for the NAND filesystem partition."
SECTION = "images"
LICENSE = "MIT"

inherit core-image

IMAGE_INSTALL = "\
    packagegroup-core-boot \
    slhttpd-module \
    slhttpd-config \
    linerate-board \
    libubootenv-bin \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"
IMAGE_FEATURES += "${LINERATE_ROOT_FEATURES}"
IMAGE_LINGUAS = ""

COMPATIBLE_MACHINE = "^(openblocks-ax3|mirabox)$"

require linerate-image-media.inc
