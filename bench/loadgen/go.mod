module sockeye.local/bench/loadgen

go 1.26
