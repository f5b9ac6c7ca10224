# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_carpctl_global_optspecs
    string join \n socket= json generate-docs= h/help V/version
end

function __fish_carpctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_carpctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_carpctl_using_subcommand
    set -l cmd (__fish_carpctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c carpctl -n "__fish_carpctl_needs_command" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_needs_command" -l generate-docs -d 'Write the man page and shell completions to DIR' -r -F
complete -c carpctl -n "__fish_carpctl_needs_command" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_needs_command" -s h -l help -d 'Print help'
complete -c carpctl -n "__fish_carpctl_needs_command" -s V -l version -d 'Print version'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "status" -d 'Each group\'s state, since when, VIPs, timing, master and counters'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "demote" -d 'Drain: a master bows out at once; the group stays BACKUP until promoted'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "promote" -d 'End a drain: the group takes part in the election again'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "reload" -d 'Re-read the config file and apply the difference (nothing changes if it is invalid)'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "watch" -d 'Print events as they happen (state changes, demotes, reloads) until interrupted'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "import" -d 'Print the carpd config equivalent to another daemon\'s (needs no running carpd); what cannot be carried over is listed on stderr as FILE:LINE: directive: not carried over (why). Exit status 0: all carried over; 3: something left out; 1: unreadable file'
complete -c carpctl -n "__fish_carpctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c carpctl -n "__fish_carpctl_using_subcommand status" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_using_subcommand status" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c carpctl -n "__fish_carpctl_using_subcommand demote" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_using_subcommand demote" -l all -d 'every group'
complete -c carpctl -n "__fish_carpctl_using_subcommand demote" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_using_subcommand demote" -s h -l help -d 'Print help'
complete -c carpctl -n "__fish_carpctl_using_subcommand promote" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_using_subcommand promote" -l all -d 'every group'
complete -c carpctl -n "__fish_carpctl_using_subcommand promote" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_using_subcommand promote" -s h -l help -d 'Print help'
complete -c carpctl -n "__fish_carpctl_using_subcommand reload" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_using_subcommand reload" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_using_subcommand reload" -s h -l help -d 'Print help'
complete -c carpctl -n "__fish_carpctl_using_subcommand watch" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_using_subcommand watch" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_using_subcommand watch" -s h -l help -d 'Print help'
complete -c carpctl -n "__fish_carpctl_using_subcommand import" -l socket -d 'carpd\'s control socket (a one-group carpd started from the command line listens on /run/carpd/<interface>-<vhid>.sock)' -r -F
complete -c carpctl -n "__fish_carpctl_using_subcommand import" -l json -d 'Print carpd\'s JSON replies (one object per line) instead of text'
complete -c carpctl -n "__fish_carpctl_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "status" -d 'Each group\'s state, since when, VIPs, timing, master and counters'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "demote" -d 'Drain: a master bows out at once; the group stays BACKUP until promoted'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "promote" -d 'End a drain: the group takes part in the election again'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "reload" -d 'Re-read the config file and apply the difference (nothing changes if it is invalid)'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "watch" -d 'Print events as they happen (state changes, demotes, reloads) until interrupted'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "import" -d 'Print the carpd config equivalent to another daemon\'s (needs no running carpd); what cannot be carried over is listed on stderr as FILE:LINE: directive: not carried over (why). Exit status 0: all carried over; 3: something left out; 1: unreadable file'
complete -c carpctl -n "__fish_carpctl_using_subcommand help; and not __fish_seen_subcommand_from status demote promote reload watch import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
