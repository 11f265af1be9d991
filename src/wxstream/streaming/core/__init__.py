"""The service's rules, pure: no Kafka client, no Ray, the clock passed in.

Per-station windows, batch assembly, release ordering, what goes out, and the
loop's decisions (when to pause, when a delivery may leave, when to stop), the
restore policy and stall detection. Tested in milliseconds.
"""
