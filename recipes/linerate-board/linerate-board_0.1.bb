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

# One unit's own fw_env.config (written by `linerate survey` beside its lab file)
# replaces the model's when set, e.g. in local.conf:
#   LINERATE_FW_ENV_CONFIG = "/home/me/.config/linerate/lab/openblocks-ax3.fw_env.config"
LINERATE_FW_ENV_CONFIG ??= ""
do_install[file-checksums] += "${@'%s:True' % d.getVar('LINERATE_FW_ENV_CONFIG') if d.getVar('LINERATE_FW_ENV_CONFIG') else ''}"

PACKAGE_ARCH = "${MACHINE_ARCH}"
COMPATIBLE_MACHINE = "^(openblocks-ax3|mirabox)$"

do_install() {
    install -d ${D}${sysconfdir}
    if [ -n "${LINERATE_FW_ENV_CONFIG}" ]; then
        install -m 0644 "${LINERATE_FW_ENV_CONFIG}" ${D}${sysconfdir}/fw_env.config
    else
        install -m 0644 ${S}/fw_env.config ${D}${sysconfdir}/fw_env.config
    fi
    install -m 0600 ${S}/securetty ${D}${sysconfdir}/securetty
}

CONFFILES:${PN} = "${sysconfdir}/fw_env.config"
RDEPENDS:${PN} = "libubootenv-bin"
