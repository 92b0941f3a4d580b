SUMMARY = "Board support for linerate: U-Boot environment access, console policy"
DESCRIPTION = "fw_env.config for the board's flash (where the vendor U-Boot \
               keeps its environment, for fw_printenv/fw_setenv from libubootenv) and \
               /etc/securetty restricting root logins to the serial console."
SECTION = "base"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

# fw_env.config is per machine: files/<machine>/fw_env.config (FILESPATH
# tries the MACHINE override directory first).
SRC_URI = "\
    file://fw_env.config \
    file://securetty \
"
S = "${UNPACKDIR}"

PACKAGE_ARCH = "${MACHINE_ARCH}"
COMPATIBLE_MACHINE = "^(openblocks-ax3|mirabox)$"

do_install() {
    install -d ${D}${sysconfdir}
    install -m 0644 ${S}/fw_env.config ${D}${sysconfdir}/fw_env.config
    install -m 0600 ${S}/securetty ${D}${sysconfdir}/securetty
}

CONFFILES:${PN} = "${sysconfdir}/fw_env.config"
RDEPENDS:${PN} = "libubootenv-bin"
