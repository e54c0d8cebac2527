"""Neural-network layers, losses and saving (see the nn issue)."""
