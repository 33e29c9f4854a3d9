"""The member portal: signed sign-in links and member sessions."""
