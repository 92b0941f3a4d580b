"""The flasher: a TFTP server of its own (ymodem as the fallback), and the NOR, NAND
and SSD strategies. Nothing is written that the unit's survey did not measure
(``guard``). Every strategy checks the image in RAM before erasing anything,
reads the flash back, and changes the boot environment last (see docs/boards.md)."""
