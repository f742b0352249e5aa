module stopgate.dev/stopgate

go 1.19
