package greeting

func Hello() string { return "hello from crscan's Go fixture" }
