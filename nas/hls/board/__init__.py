"""What runs on the board: the stream packing and the PYNQ driver. ``nas deploy`` copies this
folder verbatim beside the bitstream (as ``nas_board``); it imports numpy only, and pynq only
when a driver is opened."""
