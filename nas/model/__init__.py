"""The model layer: student configurations and networks, the teacher, the data splits, the
study folder's layout, the weights file and the raw input port. Imports only ``nas.spaces``."""
