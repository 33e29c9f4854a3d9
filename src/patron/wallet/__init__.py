"""The membership card in the phone's wallet: Apple Wallet passes and Google Wallet save links."""
