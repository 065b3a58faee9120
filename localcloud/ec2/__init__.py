"""EC2 physics: instances that boot and serve, their metadata service and user data, public addresses, ASGs."""
