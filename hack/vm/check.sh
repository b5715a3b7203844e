# Sourced by the guest check scripts: one "ok"/"FAIL" line per check, and
# $failed set to 1 on any failure.
failed=0
check() { # check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected [$2], got [$3]"
		failed=1
	fi
}
