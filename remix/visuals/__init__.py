"""Artist-approved visual models: trained only on consented artwork, reviewed by the artist, pulled on revocation."""
