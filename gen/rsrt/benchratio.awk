# benchratio.awk summarises `go test -bench` output of gen/rsrt: for each
# benchmark run with an rsrt and a hand sub-benchmark, the median ns/op,
# B/op and allocs/op of both and the throughput ratio hand/rsrt (above 1:
# the generated dispatch is faster). Used by `make bench`.
/^Benchmark[^ ]*\/(rsrt|hand)(-[0-9]+)?[ \t]/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	side = name; sub(/.*\//, "", side)
	bench = name; sub(/\/[^\/]*$/, "", bench)
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") ns[bench, side, ++nn[bench, side]] = $i
		if ($(i+1) == "B/op") by[bench, side] = $i
		if ($(i+1) == "allocs/op") al[bench, side] = $i
	}
	if (!(bench in seen)) { seen[bench] = 1; order[++nb] = bench }
	print
	next
}
{ print }
function median(bench, side,    n, i, j, t, v) {
	n = nn[bench, side]
	for (i = 1; i <= n; i++) v[i] = ns[bench, side, i] + 0
	for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
	return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
}
END {
	if (nb == 0) exit
	printf "\n%-28s %14s %14s %9s %18s %18s\n", "benchmark (median)", "rsrt ns/op", "hand ns/op", "ratio", "rsrt B/op allocs", "hand B/op allocs"
	for (k = 1; k <= nb; k++) {
		b = order[k]
		if (!nn[b, "rsrt"] || !nn[b, "hand"]) continue
		r = median(b, "rsrt"); h = median(b, "hand")
		printf "%-28s %14.0f %14.0f %8.2fx %11s %6s %11s %6s\n", b, r, h, h / r, by[b, "rsrt"], al[b, "rsrt"], by[b, "hand"], al[b, "hand"]
	}
}
