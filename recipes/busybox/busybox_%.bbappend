# linerate: root logs in only on the terminals /etc/securetty lists
# (the serial consoles, from linerate-board).
FILESEXTRAPATHS:prepend := "${THISDIR}/files:"
SRC_URI += "file://linerate-securetty.cfg"
