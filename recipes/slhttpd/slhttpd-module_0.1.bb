SUMMARY = "SLHTTPD: stateless HTTP server in the NIC driver (ndiv application)"
DESCRIPTION = "Kernel module that registers with the ndiv frame diverter \
               and answers HTTP requests from the receive path. Built from the layer's own \
               slhttpd/kernel and slhttpd/core: the same core sources the host builds and \
               tests, never a copy."
SECTION = "kernel/modules"
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"

# LINERATE_LAYERDIR is set in conf/layer.conf: the repository root.
FILESEXTRAPATHS:prepend := "${LINERATE_LAYERDIR}:"
SRC_URI = "\
    file://slhttpd/kernel \
    file://slhttpd/core \
"
S = "${UNPACKDIR}/slhttpd/kernel"

inherit module

# Needs the ndiv hook (include/linux/ndiv.h, ndiv_rx()) of linux-ndiv, the
# kernel of the linerate machines only: no other kernel can build it.
COMPATIBLE_MACHINE = "^(openblocks-ax3|mirabox)$"

# slhttpd/kernel/Makefile builds in OUT, which gets symbolic links to the
# module's and the core's sources (Kbuild writes next to its sources; the
# unpacked tree stays clean). KERNEL_SRC comes from module.bbclass.
EXTRA_OEMAKE += "OUT=${B}/module-build"
MODULES_MODULE_SYMVERS_LOCATION = "module-build"

# The module is packaged as kernel-module-slhttpd-<kernel version>;
# ${PN} is its meta package (module.bbclass).
