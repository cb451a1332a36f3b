package main

import "example.com/greeting"

func main() { println(greeting.Hello()) }
