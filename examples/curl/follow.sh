#!/bin/sh
# Prints every change of a config key as a server-sent event, straight from a local kon agent:
#   follow.sh /run/kon/agent.sock service1
curl -sSN --unix-socket "${1:?socket path}" "http://kon/v1/watch?keys=${2:?config key}" | grep --line-buffered '^data: '
