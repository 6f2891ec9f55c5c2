"""DeepSORT (Wojke et al., 2017): Kalman motion, appearance gallery, matching cascade."""
