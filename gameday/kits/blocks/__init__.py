"""Generic building blocks kits are made of: a kit of CloudFormation templates (`TemplateKit`), and the
steady states, judges and predictors common patterns share (health-checked DNS, EIP claimed at boot, ASG
replacement, origin failover). Nothing here names a stack."""
