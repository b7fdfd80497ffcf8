"""What this hub can offer: profiles, capacity providers and the reservation calendar."""
