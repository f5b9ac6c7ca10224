complete -c carpd -s i -l interface -d 'Bind interface IF (default: the first interface that is up, not loopback)' -r
complete -c carpd -s s -l srcip -d 'Source (real) IPv4 address of this host on that interface [required]' -r
complete -c carpd -s m -l mcast -l mcastip -d 'Multicast group for advertisements' -r
complete -c carpd -s v -l vhid -d 'Virtual host id, 1-255 (decimal, 0x hex or 0 octal, as ucarp) [required]' -r
complete -c carpd -s p -l pass -d 'Password, 1-19 bytes (visible in ps: prefer --passfile)' -r
complete -c carpd -s o -l passfile -d 'Read the password from the first line of FILE' -r -F
complete -c carpd -s a -l addr -d 'Virtual shared IPv4 address [required]; repeat for several addresses in one group' -r
complete -c carpd -s b -l advbase -d 'Advertisement base interval in seconds, 0-255' -r
complete -c carpd -s k -l advskew -d 'Advertisement skew in 1/256 s, 0-255 (higher is less preferred)' -r
complete -c carpd -s u -l upscript -d 'Run FILE to become master (argv: interface, VIP, xparam)' -r -F
complete -c carpd -s d -l downscript -d 'Run FILE to become backup (argv: interface, VIP, xparam)' -r -F
complete -c carpd -s r -l deadratio -d 'Ratio to consider a master dead (dead time = ratio × advbase + advskew/256)' -r
complete -c carpd -s f -l facility -d 'Syslog facility (daemon, user, local0-local7, ...; none turns syslog off)' -r
complete -c carpd -s x -l xparam -d 'Extra parameter passed to the scripts as their third argument' -r
complete -c carpd -l pidfile -d 'Write the process id to FILE (carpd addition)' -r -F
complete -c carpd -l control-socket -d 'Where carpctl connects (carpd addition; default /run/carpd/<interface>-<vhid>.sock; with --config the file\'s [daemon] control_socket)' -r -F
complete -c carpd -l hook-timeout -d 'Kill a hook script still running after this long (carpd addition)' -r
complete -c carpd -l realtime-priority -d 'Run the event loop under SCHED_FIFO at this priority (1 to 99), or 0 for the normal scheduler (carpd addition; default: priority 10 when adverts are under 100 ms apart)' -r
complete -c carpd -l config -d 'Serve every group of a config file (TOML) instead of one group from these options (carpd addition; FILE defaults to /etc/carpd/carpd.toml)' -r -F
complete -c carpd -l check-config -d 'Check a config file and exit: 0 when it is valid, 1 with every error otherwise (carpd addition; FILE defaults to /etc/carpd/carpd.toml)' -r -F
complete -c carpd -l generate-docs -d 'Write the man page and shell completions into DIR, then exit (packaging)' -r -F
complete -c carpd -s P -l preempt -d 'Become master as soon as possible (take over from a less preferred master)'
complete -c carpd -s n -l neutral -d 'Don\'t run the down script at start'
complete -c carpd -s D -l debug -d 'Enable debug output'
complete -c carpd -s z -l shutdown -d 'Run the down script at exit (INT, QUIT, TERM, HUP) when master'
complete -c carpd -s B -l daemonize -d 'Run in the background'
complete -c carpd -s S -l ignoreifstate -d 'Ignore interface state (down, no carrier)'
complete -c carpd -s M -l nomcast -d 'Send advertisements to the Ethernet broadcast address instead of the multicast one'
complete -c carpd -l version -d 'Print the version'
complete -c carpd -s h -l help -d 'Print help'
