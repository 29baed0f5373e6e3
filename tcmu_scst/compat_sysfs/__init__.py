"""The SCST sysfs object model, mgmt grammar and help texts, translated to LIO configfs."""
