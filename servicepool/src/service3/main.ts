import { runServiceMain } from "../service-main";
import { startService3 } from "./service3";

runServiceMain("service3", 7103, startService3);
