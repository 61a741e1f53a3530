"""parcelproof's analysis: flags, dispute windows, evidence packs and frames."""
