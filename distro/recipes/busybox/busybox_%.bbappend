# linerate: root logs in only on the terminals /etc/securetty lists (the
# serial consoles, from linerate-board). Only for the linerate distro.
FILESEXTRAPATHS:prepend:linerate := "${THISDIR}/files:"
SRC_URI:append:linerate = " file://linerate-securetty.cfg"
