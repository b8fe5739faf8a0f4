"""Access control: door controllers (微耕/UHPPOTE) and OSDP readers."""
