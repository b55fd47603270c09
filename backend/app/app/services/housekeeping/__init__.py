"""What beat sends now and then: schedules' runs, lost and unsent jobs, retention."""
