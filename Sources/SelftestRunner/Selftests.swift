@main
enum Selftests {
    static func main() {}
}
