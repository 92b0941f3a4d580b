SUMMARY = "Boot-time configuration of SLHTTPD and the script that loads it"
DESCRIPTION = "/etc/slhttpd.conf says which ports serve, on which addresses \
               and TCP ports; variables slhttpd_* in the U-Boot environment (read with \
               fw_printenv) override it. The init script loads the module with that \
               configuration and brings the management port up."
SECTION = "base"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "\
    file://slhttpd.conf \
    file://slhttpd.init \
"

S = "${UNPACKDIR}"

inherit update-rc.d

# Board configuration, not a generic package: it needs the board support of
# the linerate machines (linerate-board) and the module built against their
# ndiv kernel, so it exists only for them, and one machine's package may
# differ from the other's. A world build for any other machine skips it
# instead of failing on linerate-board.
PACKAGE_ARCH = "${MACHINE_ARCH}"
COMPATIBLE_MACHINE = "^(openblocks-ax3|mirabox)$"

INITSCRIPT_NAME = "slhttpd"
# After mdev and networking basics (S40), before gettys.
INITSCRIPT_PARAMS = "start 45 S ."

do_install() {
    install -d ${D}${sysconfdir}/init.d
    install -m 0644 ${S}/slhttpd.conf ${D}${sysconfdir}/slhttpd.conf
    install -m 0755 ${S}/slhttpd.init ${D}${sysconfdir}/init.d/slhttpd
}

CONFFILES:${PN} = "${sysconfdir}/slhttpd.conf"
RDEPENDS:${PN} = "busybox-udhcpc libubootenv-bin linerate-board slhttpd-module"
