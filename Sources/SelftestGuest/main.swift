import Glibc
import SelftestGuestKit

exit(Agent.main(arguments: CommandLine.arguments))
