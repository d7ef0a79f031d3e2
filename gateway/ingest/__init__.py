"""Approval records pushed by the approval systems (工改, 联合图审), signed with HMAC."""
