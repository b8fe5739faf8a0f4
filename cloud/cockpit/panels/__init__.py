"""The cockpit's panels (``registry``); importing ``load`` registers every built-in one."""
